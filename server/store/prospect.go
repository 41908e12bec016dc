package store

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Prospect is a person who may buy. Optional text fields are nil when unset.
type Prospect struct {
	ID               string
	AccountID        string
	Email            string
	FirstName        *string
	LastName         *string
	Company          *string
	Title            *string
	Phone            *string
	Website          *string
	Source           *string
	Status           string
	Tags             []string
	Metadata         map[string]string
	MarketingConsent bool
	ConsentAt        *time.Time
	Hidden           bool
	// Attribution is where the prospect came from through forms; nil when it
	// never submitted one. Only form submissions set it.
	Attribution *Attribution
	Created     time.Time
	Updated     time.Time
	// ConsentText is the wording a create's request gave with its consent: not
	// kept on the prospect, but in the consent ledger's entry of the change.
	ConsentText *string `json:"-"`
}

// ProspectPatch is a partial update: a nil field is left alone. For the optional
// text fields, a non-nil pointer to nil clears the field.
type ProspectPatch struct {
	Email            *string
	FirstName        **string
	LastName         **string
	Company          **string
	Title            **string
	Phone            **string
	Website          **string
	Source           **string
	Status           *string
	Tags             *[]string // pointer to nil clears
	Metadata         map[string]string
	ClearMetadata    bool // remove every key before merging Metadata
	MarketingConsent *bool
	Hidden           *bool
	ConsentText      *string // for the consent ledger, as Prospect.ConsentText
	// AddTags adds these tags to the prospect's, up to MaxTags (a form's update).
	AddTags []string
	// Touch records a form submission in the attribution: the first touch if it
	// has none, the last touch always.
	Touch *Touch
}

// MaxTags is how many tags a prospect may have.
const MaxTags = 20

// ListParams selects one page of an account's live prospects, newest first.
type ListParams struct {
	Limit         int
	StartingAfter string // older than this id
	EndingBefore  string // newer than this id
	Email         string
	Status        string
	Tag           string
	CreatedGTE    *time.Time
	CreatedLTE    *time.Time
	IncludeHidden bool
}

// Page is one page of prospects and whether more lie beyond it in the walk's direction.
type Page struct {
	Prospects []Prospect
	HasMore   bool
}

// ProspectStore keeps an account's prospects: the prospect endpoints' reads
// and writes, and the plan limit and email uniqueness they enforce.
type ProspectStore interface {
	// CreateProspect inserts p (its ID, Created and Updated are set), enforcing the
	// plan limit and the uniqueness of the email among live prospects.
	//
	// CreateProspect, UpdateProspect and DeleteProspect each record the change's
	// Event (prospect.created, .updated with PreviousAttributes, .deleted with the
	// id only), with the request RequestFrom(ctx) names, and enqueue its webhook
	// deliveries, in the change's own transaction: all commit or none does.
	CreateProspect(ctx context.Context, p *Prospect) error
	// UpsertProspects inserts ps, all of one account, in order and in one
	// transaction (joining the caller's Atomically), as many CreateProspect
	// calls would one after another, each with its event; an item whose email
	// a live prospect has (perhaps an earlier item's) is answered as conflict
	// says, with that prospect patched (check running on
	// the result, as UpdateProspect's), as it is, or with an error. The items'
	// outcomes and their events are as many CreateProspect and UpdateProspect
	// calls would make one after another, but the whole batch is written in a
	// few statements whatever its size. The error is no item's (storage): then
	// nothing of ps is kept.
	UpsertProspects(ctx context.Context, ps []*Prospect, conflict Conflict, check func(*Prospect) error) ([]Upserted, error)
	// Prospect returns a live prospect, ErrDeleted for a tombstone or ErrNotFound.
	Prospect(ctx context.Context, accountID, id string) (*Prospect, error)
	// UpdateProspect applies the patch and returns the new state; check runs on the
	// patched state inside the same transaction and can veto the update.
	UpdateProspect(ctx context.Context, accountID, id string, patch ProspectPatch, check func(*Prospect) error) (*Prospect, error)
	// DeleteProspect erases a prospect's data, keeping a tombstone; check can veto it.
	DeleteProspect(ctx context.Context, accountID, id string, check func(*Prospect) error) error
	// ListProspects returns one page of live prospects.
	ListProspects(ctx context.Context, accountID string, params ListParams) (*Page, error)
}

// Normalise gives a prospect its canonical stored form: a trimmed, lower-case
// email, and empty (not nil) tags and metadata.
func (p *Prospect) Normalise() {
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	if p.Tags == nil {
		p.Tags = []string{}
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
}

// Update is an update's change to p, a live prospect read in the update's
// transaction: it applies the patch, lets check (when not nil) veto the
// result, and sets Updated. It returns what the update's event records: the
// earlier value of each attribute it changed, and whether the prospect was
// hidden before or after.
func (patch ProspectPatch) Update(p *Prospect, now time.Time, check func(*Prospect) error) (prev map[string]any, hidden bool, err error) {
	before, wasHidden := attributes(p), p.Hidden
	patch.Apply(p, now)
	if check != nil {
		if err := check(p); err != nil {
			return nil, false, err
		}
	}
	p.Updated = now
	return changedAttributes(before, p), wasHidden || p.Hidden, nil
}

// Apply changes p as the patch says; now is when a consent given by it was given.
func (patch ProspectPatch) Apply(p *Prospect, now time.Time) {
	if patch.Email != nil {
		p.Email = *patch.Email
	}
	for dst, src := range map[**string]**string{
		&p.FirstName: patch.FirstName, &p.LastName: patch.LastName, &p.Company: patch.Company, &p.Title: patch.Title,
		&p.Phone: patch.Phone, &p.Website: patch.Website, &p.Source: patch.Source,
	} {
		if src != nil {
			*dst = *src
		}
	}
	if patch.Status != nil {
		p.Status = *patch.Status
	}
	if patch.Tags != nil {
		p.Tags = *patch.Tags
	}
	if patch.ClearMetadata || p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	for k, v := range patch.Metadata {
		if v == "" {
			delete(p.Metadata, k)
		} else {
			p.Metadata[k] = v
		}
	}
	if patch.MarketingConsent != nil && *patch.MarketingConsent != p.MarketingConsent {
		p.MarketingConsent = *patch.MarketingConsent
		p.ConsentAt = nil
		if p.MarketingConsent {
			t := now
			p.ConsentAt = &t
		}
	}
	if patch.Hidden != nil {
		p.Hidden = *patch.Hidden
	}
	for _, t := range patch.AddTags {
		if len(p.Tags) < MaxTags && !slices.Contains(p.Tags, t) {
			p.Tags = append(slices.Clip(p.Tags), t)
		}
	}
	if patch.Touch != nil {
		a := Attribution{FirstTouch: *patch.Touch, LastTouch: *patch.Touch}
		if p.Attribution != nil {
			a.FirstTouch = p.Attribution.FirstTouch
		}
		p.Attribution = &a
	}
	p.Normalise()
}
