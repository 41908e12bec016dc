package store

import (
	"context"
	"slices"
	"time"
)

// EventFormSubmissionCreated is the type of the event a form submission
// records, whatever its verdict.
const EventFormSubmissionCreated = "form_submission.created"

// The statuses of a form submission.
const (
	SubmissionAccepted    = "accepted"
	SubmissionQuarantined = "quarantined"
)

// Form is a public web form: pages on its allowed origins post prospects to it
// without a key.
type Form struct {
	ID             string // frm_ + a time-ordered suffix
	AccountID      string
	Name           string
	AllowedOrigins []string
	RedirectURL    string // "" for the built-in thank-you page
	DefaultSource  string
	DefaultTags    []string
	ConsentText    string
	// CaptchaProvider is "turnstile", "hcaptcha", or "" without a captcha.
	CaptchaProvider string
	// CaptchaSecret is sealed at rest like webhook secrets; the store returns
	// it only from PublicForm, which a submission's check needs.
	CaptchaSecret string
	Disabled      bool
	Created       time.Time
}

// FormPatch changes a form: a nil field is left alone.
type FormPatch struct {
	Name           *string
	AllowedOrigins *[]string
	RedirectURL    *string
	DefaultSource  *string
	DefaultTags    *[]string
	ConsentText    *string
	// Captcha sets the provider and secret; ClearCaptcha removes them.
	Captcha      *FormCaptcha
	ClearCaptcha bool
	Disabled     *bool
}

// FormCaptcha is a captcha provider and its secret.
type FormCaptcha struct {
	Provider string
	Secret   string
}

// Apply changes f as the patch says (the new secret as given, to seal).
func (patch FormPatch) Apply(f *Form) {
	for dst, src := range map[*string]*string{&f.Name: patch.Name, &f.RedirectURL: patch.RedirectURL,
		&f.DefaultSource: patch.DefaultSource, &f.ConsentText: patch.ConsentText} {
		if src != nil {
			*dst = *src
		}
	}
	if patch.AllowedOrigins != nil {
		f.AllowedOrigins = *patch.AllowedOrigins
	}
	if patch.DefaultTags != nil {
		f.DefaultTags = *patch.DefaultTags
	}
	if patch.ClearCaptcha {
		f.CaptchaProvider, f.CaptchaSecret = "", ""
	}
	if patch.Captcha != nil {
		f.CaptchaProvider, f.CaptchaSecret = patch.Captcha.Provider, patch.Captcha.Secret
	}
	if patch.Disabled != nil {
		f.Disabled = *patch.Disabled
	}
}

// AllowsOrigin reports whether a page at origin may post to the form.
func (f *Form) AllowsOrigin(origin string) bool { return slices.Contains(f.AllowedOrigins, origin) }

// FormSubmission is one submission of a form, kept whatever its verdict.
type FormSubmission struct {
	ID         string // fsub_ + a time-ordered suffix
	AccountID  string
	FormID     string
	Status     string   // SubmissionAccepted or SubmissionQuarantined
	Reasons    []string // why it was quarantined
	ProspectID string   // once accepted
	// Fields are the prospect fields submitted: email, names, marketing_consent,
	// and the others' metadata keys prefixed "metadata.".
	Fields map[string]string
	// Attribution holds the utm_* fields, referrer and page_url submitted.
	Attribution map[string]string
	// ConsentText is the form's consent wording when consent was given: the
	// record of what the person agreed to.
	ConsentText string
	IP          string
	UserAgent   string
	Created     time.Time
}

// SubmissionListParams selects one page of a form's submissions, newest first.
type SubmissionListParams struct {
	Limit         int
	StartingAfter string // older than this id
	Status        string // "" for every status
}

// FormStore keeps an account's forms and their submissions.
type FormStore interface {
	// CreateForm inserts f, setting its ID and Created, its captcha secret sealed.
	CreateForm(ctx context.Context, f *Form) error
	// Form returns one form of the account, without its captcha secret, or ErrNotFound.
	Form(ctx context.Context, accountID, id string) (*Form, error)
	// PublicForm returns the form with that id, whichever its account, with its
	// captcha secret unsealed: what a submission's checks need. ErrNotFound when
	// there is none.
	PublicForm(ctx context.Context, id string) (*Form, error)
	// ListForms returns the account's forms, newest first, without secrets.
	ListForms(ctx context.Context, accountID string) ([]Form, error)
	// UpdateForm applies the patch and returns the form, without its secret.
	UpdateForm(ctx context.Context, accountID, id string, patch FormPatch) (*Form, error)
	// DeleteForm deletes a form and its submissions.
	DeleteForm(ctx context.Context, accountID, id string) error

	// CreateFormSubmission inserts s (its ID and Created set unless set
	// already) and records its form_submission.created event, in one
	// transaction (joining the caller's Atomically).
	CreateFormSubmission(ctx context.Context, s *FormSubmission) error
	// FormSubmission returns one submission of the account's form, or ErrNotFound.
	FormSubmission(ctx context.Context, accountID, formID, id string) (*FormSubmission, error)
	// ListFormSubmissions returns a page of a form's submissions and whether more follow.
	ListFormSubmissions(ctx context.Context, accountID, formID string, params SubmissionListParams) ([]FormSubmission, bool, error)
	// AcceptFormSubmission marks a submission accepted, with its prospect;
	// its event follows the prospect's hidden flag from then on.
	AcceptFormSubmission(ctx context.Context, accountID, id, prospectID string) error
	// ProspectSubmissions returns the person's submissions, newest first:
	// those that made or changed the prospect, and the ones with its email
	// (normalised) that never made a prospect.
	ProspectSubmissions(ctx context.Context, accountID, prospectID, email string) ([]FormSubmission, error)
}

// Touch is one submission's place in a prospect's attribution: the campaign
// fields submitted, the form and when. Its JSON is how the engines keep it,
// in the order and with the names the API writes.
type Touch struct {
	At          int64  `json:"at"`
	Form        string `json:"form"`
	PageURL     string `json:"page_url,omitempty"`
	Referrer    string `json:"referrer,omitempty"`
	UTMCampaign string `json:"utm_campaign,omitempty"`
	UTMContent  string `json:"utm_content,omitempty"`
	UTMMedium   string `json:"utm_medium,omitempty"`
	UTMSource   string `json:"utm_source,omitempty"`
	UTMTerm     string `json:"utm_term,omitempty"`
}

// Attribution is where a prospect came from through forms: its first
// submission's touch, kept, and its latest.
type Attribution struct {
	FirstTouch Touch `json:"first_touch"`
	LastTouch  Touch `json:"last_touch"`
}

// NewTouch is the touch of a submission of form at t with the attribution fields.
func NewTouch(form string, t time.Time, a map[string]string) Touch {
	return Touch{At: t.Unix(), Form: form, PageURL: a["page_url"], Referrer: a["referrer"],
		UTMCampaign: a["utm_campaign"], UTMContent: a["utm_content"], UTMMedium: a["utm_medium"],
		UTMSource: a["utm_source"], UTMTerm: a["utm_term"]}
}

// AttributionFields are the submitted fields that make a touch.
var AttributionFields = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer", "page_url"}
