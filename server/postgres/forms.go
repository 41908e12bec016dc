package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/captureapi/capture/server/store"
)

var _ store.FormStore = (*DB)(nil)

const formCols = `id, account_id, name, allowed_origins, redirect_url, default_source, default_tags, consent_text,
	captcha_provider, captcha_secret, disabled, created`

// scanForm reads one form; its CaptchaSecret is the stored form, to unseal.
func scanForm(row pgx.Row) (*store.Form, error) {
	var f store.Form
	err := row.Scan(&f.ID, &f.AccountID, &f.Name, &f.AllowedOrigins, &f.RedirectURL, &f.DefaultSource, &f.DefaultTags,
		&f.ConsentText, &f.CaptchaProvider, &f.CaptchaSecret, &f.Disabled, &f.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sealCaptcha is the form's captcha secret as stored.
func (db *DB) sealCaptcha(f *store.Form) string {
	if f.CaptchaSecret == "" {
		return ""
	}
	return db.secrets.Seal(f.ID, f.CaptchaSecret)
}

// CreateForm inserts a form, its captcha secret sealed.
func (db *DB) CreateForm(ctx context.Context, f *store.Form) (err error) {
	defer unavailable(ctx, &err)
	f.ID, f.Created = store.NewID("frm_"), now()
	err = db.with(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO forms (`+formCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			f.ID, f.AccountID, f.Name, nonNil(f.AllowedOrigins), f.RedirectURL, f.DefaultSource, nonNil(f.DefaultTags),
			f.ConsentText, f.CaptchaProvider, db.sealCaptcha(f), f.Disabled, f.Created)
		return err
	})
	f.CaptchaSecret = ""
	return err
}

// Form returns one form of the account, without its captcha secret.
func (db *DB) Form(ctx context.Context, accountID, id string) (f *store.Form, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	err = db.with(ctx, func(q querier) error {
		f, err = scanForm(q.QueryRow(ctx, `SELECT `+formCols+` FROM forms WHERE id = $1 AND account_id = $2`, id, accountID))
		return err
	})
	if f != nil {
		f.CaptchaSecret = ""
	}
	return f, err
}

// PublicForm returns a form by its id alone, with its captcha secret unsealed.
func (db *DB) PublicForm(ctx context.Context, id string) (f *store.Form, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	err = db.with(ctx, func(q querier) error {
		f, err = scanForm(q.QueryRow(ctx, `SELECT `+formCols+` FROM forms WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return nil, err
	}
	if f.CaptchaSecret, err = db.secrets.Open(f.ID, f.CaptchaSecret); err != nil {
		return nil, err
	}
	return f, nil
}

// ListForms returns the account's forms, newest first, without secrets.
func (db *DB) ListForms(ctx context.Context, accountID string) (out []store.Form, err error) {
	defer unavailable(ctx, &err)
	out = []store.Form{}
	err = db.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+formCols+` FROM forms WHERE account_id = $1 ORDER BY id DESC`, accountID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scanForm(rows)
			if err != nil {
				return err
			}
			f.CaptchaSecret = ""
			out = append(out, *f)
		}
		return rows.Err()
	})
	return out, err
}

// UpdateForm applies a patch to the locked row.
func (db *DB) UpdateForm(ctx context.Context, accountID, id string, patch store.FormPatch) (out *store.Form, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return nil, store.ErrNotFound
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		f, err := scanForm(tx.QueryRow(ctx, `SELECT `+formCols+` FROM forms WHERE id = $1 AND account_id = $2 FOR UPDATE`, id, accountID))
		if err != nil {
			return err
		}
		secret := f.CaptchaSecret
		patch.Apply(f)
		if patch.Captcha != nil || patch.ClearCaptcha {
			secret = db.sealCaptcha(f)
		}
		_, err = tx.Exec(ctx, `UPDATE forms SET name = $1, allowed_origins = $2, redirect_url = $3, default_source = $4,
			default_tags = $5, consent_text = $6, captcha_provider = $7, captcha_secret = $8, disabled = $9 WHERE id = $10`,
			f.Name, nonNil(f.AllowedOrigins), f.RedirectURL, f.DefaultSource, nonNil(f.DefaultTags), f.ConsentText,
			f.CaptchaProvider, secret, f.Disabled, f.ID)
		f.CaptchaSecret = ""
		out = f
		return err
	})
	return out, err
}

// DeleteForm deletes a form and its submissions.
func (db *DB) DeleteForm(ctx context.Context, accountID, id string) (err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) {
		return store.ErrNotFound
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM forms WHERE id = $1 AND account_id = $2`, id, accountID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

const submissionCols = `id, account_id, form_id, status, reasons, prospect_id, fields, attribution, consent_text, ip, user_agent, created`

func scanSubmission(row pgx.Row) (*store.FormSubmission, error) {
	var s store.FormSubmission
	err := row.Scan(&s.ID, &s.AccountID, &s.FormID, &s.Status, &s.Reasons, &s.ProspectID, &s.Fields, &s.Attribution,
		&s.ConsentText, &s.IP, &s.UserAgent, &s.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// CreateFormSubmission inserts a submission and records its event, in one transaction.
func (db *DB) CreateFormSubmission(ctx context.Context, s *store.FormSubmission) (err error) {
	defer unavailable(ctx, &err)
	if s.ID == "" {
		s.ID = store.NewID("fsub_")
	}
	if s.Created.IsZero() {
		s.Created = now()
	}
	s.Reasons = nonNil(s.Reasons)
	for _, m := range []*map[string]string{&s.Fields, &s.Attribution} {
		if *m == nil {
			*m = map[string]string{}
		}
	}
	e := store.NewSubmissionEvent(ctx, s)
	object, err := json.Marshal(s)
	if err != nil {
		return err
	}
	enqueued := false
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO form_submissions (`+submissionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			s.ID, s.AccountID, s.FormID, s.Status, s.Reasons, s.ProspectID, s.Fields, s.Attribution, s.ConsentText, s.IP,
			s.UserAgent, s.Created)
		if err != nil {
			return err
		}
		hidden := false // the event of a hidden prospect's submission is for admin keys only
		if s.ProspectID != "" {
			if err := tx.QueryRow(ctx, `SELECT hidden FROM prospects WHERE id = $1`, s.ProspectID).Scan(&hidden); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, recordEventSQL, e.ID, e.AccountID, e.Type, string(object), nil, hidden,
			e.Request.ID, e.Request.IdempotencyKey, e.Created)
		enqueued = err == nil && tag.RowsAffected() > 0
		return err
	})
	if err == nil && enqueued {
		db.enqueued(ctx)
	}
	return err
}

// FormSubmission returns one submission of the account's form.
func (db *DB) FormSubmission(ctx context.Context, accountID, formID, id string) (s *store.FormSubmission, err error) {
	defer unavailable(ctx, &err)
	if unstorable(id) || unstorable(formID) {
		return nil, store.ErrNotFound
	}
	err = db.with(ctx, func(q querier) error {
		s, err = scanSubmission(q.QueryRow(ctx, `SELECT `+submissionCols+` FROM form_submissions
			WHERE id = $1 AND form_id = $2 AND account_id = $3`, id, formID, accountID))
		return err
	})
	return s, err
}

// ListFormSubmissions returns a keyset page of a form's submissions, newest first.
func (db *DB) ListFormSubmissions(ctx context.Context, accountID, formID string, p store.SubmissionListParams) (_ []store.FormSubmission, more bool, err error) {
	defer unavailable(ctx, &err)
	if unstorable(formID) || unstorable(p.StartingAfter) {
		return []store.FormSubmission{}, false, nil
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + submissionCols + ` FROM form_submissions WHERE form_id = $1 AND account_id = $2`)
	args := []any{formID, accountID}
	if p.Status != "" {
		q.WriteString(` AND status = $3`)
		args = append(args, p.Status)
	}
	return listPage(ctx, db, &q, args, store.Keyset{Limit: p.Limit, StartingAfter: p.StartingAfter}, scanSubmission)
}

// AcceptFormSubmission marks a submission accepted, with its prospect.
func (db *DB) AcceptFormSubmission(ctx context.Context, accountID, id, prospectID string) (err error) {
	defer unavailable(ctx, &err)
	return db.with(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `UPDATE form_submissions SET status = $1, prospect_id = $2 WHERE id = $3 AND account_id = $4`,
			store.SubmissionAccepted, prospectID, id, accountID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = q.Exec(ctx, `UPDATE events SET hidden = (SELECT hidden FROM prospects WHERE id = $3)
			WHERE account_id = $1 AND object_id = $2`, accountID, id, prospectID)
		return err
	})
}

// personsSubmissions selects the ids of the submissions of the account ($1)
// that made or changed prospect $2, or hold its email $3 and made none.
const personsSubmissions = `SELECT id FROM form_submissions WHERE account_id = $1 AND prospect_id = $2
	UNION SELECT id FROM form_submissions WHERE account_id = $1 AND prospect_id = '' AND fields->>'email' = $3`

// ProspectSubmissions returns the person's submissions, newest first.
func (db *DB) ProspectSubmissions(ctx context.Context, accountID, prospectID, email string) (out []store.FormSubmission, err error) {
	defer unavailable(ctx, &err)
	p := store.Prospect{Email: email}
	p.Normalise()
	out = []store.FormSubmission{}
	err = db.with(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+submissionCols+` FROM form_submissions
			WHERE id IN (`+personsSubmissions+`) ORDER BY id DESC`, accountID, prospectID, p.Email)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanSubmission(rows)
			if err != nil {
				return err
			}
			out = append(out, *s)
		}
		return rows.Err()
	})
	return out, err
}

// forgetSubmissions scrubs, in a deletion's transaction, the person's
// submissions and their events of every personal value: the submitted
// fields, the attribution, the address and the browser.
func forgetSubmissions(ctx context.Context, tx pgx.Tx, p *store.Prospect) error {
	if _, err := tx.Exec(ctx, `UPDATE events SET prospect = prospect || jsonb_build_object('Fields', '{}'::jsonb,
		'Attribution', '{}'::jsonb, 'IP', '', 'UserAgent', '')
		WHERE account_id = $1 AND object_id IN (`+personsSubmissions+`)`, p.AccountID, p.ID, p.Email); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE form_submissions SET fields = '{}', attribution = '{}', ip = '', user_agent = ''
		WHERE id IN (`+personsSubmissions+`)`, p.AccountID, p.ID, p.Email)
	return err
}

// followSubmissionsHidden makes the events of the submissions that made or
// changed p follow its hidden flag.
func followSubmissionsHidden(ctx context.Context, tx pgx.Tx, p *store.Prospect) error {
	_, err := tx.Exec(ctx, `UPDATE events SET hidden = $3 WHERE account_id = $1 AND object_id IN
		(SELECT id FROM form_submissions WHERE account_id = $1 AND prospect_id = $2)`, p.AccountID, p.ID, p.Hidden)
	return err
}
