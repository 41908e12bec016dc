package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/captureapi/capture/server/store"
)

var _ store.FormStore = (*DB)(nil)

const formCols = `id, account_id, name, allowed_origins, redirect_url, default_source, default_tags, consent_text,
	captcha_provider, captcha_secret, disabled, created`

// scanForm reads one form; its CaptchaSecret is the stored form, to unseal.
func scanForm(row scanner) (*store.Form, error) {
	var f store.Form
	var origins, tags string
	var created int64
	err := row.Scan(&f.ID, &f.AccountID, &f.Name, &origins, &f.RedirectURL, &f.DefaultSource, &tags, &f.ConsentText,
		&f.CaptchaProvider, &f.CaptchaSecret, &f.Disabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(origins, &f.AllowedOrigins); err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(tags, &f.DefaultTags); err != nil {
		return nil, err
	}
	f.Created = time.Unix(created, 0)
	return &f, nil
}

// CreateForm inserts a form, its captcha secret sealed.
func (db *DB) CreateForm(ctx context.Context, f *store.Form) (err error) {
	defer unavailable(&err)
	f.ID, f.Created = store.NewID("frm_"), now()
	_, err = db.exec(ctx, `INSERT INTO forms (`+formCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.AccountID, f.Name, mustJSON(nonNil(f.AllowedOrigins)), f.RedirectURL, f.DefaultSource, mustJSON(nonNil(f.DefaultTags)),
		f.ConsentText, f.CaptchaProvider, db.sealCaptcha(f), f.Disabled, f.Created.Unix())
	f.CaptchaSecret = ""
	return err
}

// sealCaptcha is the form's captcha secret as stored.
func (db *DB) sealCaptcha(f *store.Form) string {
	if f.CaptchaSecret == "" {
		return ""
	}
	return db.secrets.Seal(f.ID, f.CaptchaSecret)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Form returns one form of the account, without its captcha secret.
func (db *DB) Form(ctx context.Context, accountID, id string) (_ *store.Form, err error) {
	defer unavailable(&err)
	f, err := scanForm(db.queryRow(ctx, `SELECT `+formCols+` FROM forms WHERE id = ? AND account_id = ?`, id, accountID))
	if f != nil {
		f.CaptchaSecret = ""
	}
	return f, err
}

// PublicForm returns a form by its id alone, with its captcha secret unsealed.
func (db *DB) PublicForm(ctx context.Context, id string) (_ *store.Form, err error) {
	defer unavailable(&err)
	f, err := scanForm(db.queryRow(ctx, `SELECT `+formCols+` FROM forms WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if f.CaptchaSecret, err = db.secrets.Open(f.ID, f.CaptchaSecret); err != nil {
		return nil, err
	}
	return f, nil
}

// ListForms returns the account's forms, newest first, without secrets.
func (db *DB) ListForms(ctx context.Context, accountID string) (_ []store.Form, err error) {
	defer unavailable(&err)
	rows, err := db.read.QueryContext(ctx, `SELECT `+formCols+` FROM forms WHERE account_id = ? ORDER BY id DESC`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Form{}
	for rows.Next() {
		f, err := scanForm(rows)
		if err != nil {
			return nil, err
		}
		f.CaptchaSecret = ""
		out = append(out, *f)
	}
	return out, rows.Err()
}

// UpdateForm applies a patch in one transaction.
func (db *DB) UpdateForm(ctx context.Context, accountID, id string, patch store.FormPatch) (out *store.Form, err error) {
	defer unavailable(&err)
	err = db.inTx(ctx, func(tx *writeTx) error {
		f, err := scanForm(tx.QueryRowContext(ctx, `SELECT `+formCols+` FROM forms WHERE id = ? AND account_id = ?`, id, accountID))
		if err != nil {
			return err
		}
		secret := f.CaptchaSecret // as stored: sealed, unless the patch sets another
		patch.Apply(f)
		if patch.Captcha != nil || patch.ClearCaptcha {
			secret = db.sealCaptcha(f)
		}
		_, err = tx.ExecContext(ctx, `UPDATE forms SET name = ?, allowed_origins = ?, redirect_url = ?, default_source = ?,
			default_tags = ?, consent_text = ?, captcha_provider = ?, captcha_secret = ?, disabled = ? WHERE id = ?`,
			f.Name, mustJSON(nonNil(f.AllowedOrigins)), f.RedirectURL, f.DefaultSource, mustJSON(nonNil(f.DefaultTags)),
			f.ConsentText, f.CaptchaProvider, secret, f.Disabled, f.ID)
		f.CaptchaSecret = ""
		out = f
		return err
	})
	return out, err
}

// DeleteForm deletes a form and its submissions.
func (db *DB) DeleteForm(ctx context.Context, accountID, id string) (err error) {
	defer unavailable(&err)
	return db.inTx(ctx, func(tx *writeTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM form_submissions WHERE form_id = ? AND account_id = ?`, id, accountID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM forms WHERE id = ? AND account_id = ?`, id, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

const submissionCols = `id, account_id, form_id, status, reasons, prospect_id, fields, attribution, consent_text, ip, user_agent, created`

func scanSubmission(row scanner) (*store.FormSubmission, error) {
	var s store.FormSubmission
	var reasons, fields, attribution string
	var created int64
	err := row.Scan(&s.ID, &s.AccountID, &s.FormID, &s.Status, &reasons, &s.ProspectID, &fields, &attribution,
		&s.ConsentText, &s.IP, &s.UserAgent, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	for src, dst := range map[string]any{reasons: &s.Reasons, fields: &s.Fields, attribution: &s.Attribution} {
		if err := json.Unmarshal([]byte(src), dst); err != nil {
			return nil, err
		}
	}
	s.Created = time.Unix(created, 0)
	return &s, nil
}

// CreateFormSubmission inserts a submission and records its event, in one transaction.
func (db *DB) CreateFormSubmission(ctx context.Context, s *store.FormSubmission) (err error) {
	defer unavailable(&err)
	if s.ID == "" {
		s.ID = store.NewID("fsub_")
	}
	if s.Created.IsZero() {
		s.Created = now()
	}
	s.Reasons = nonNil(s.Reasons)
	return db.inTx(ctx, func(tx *writeTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO form_submissions (`+submissionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.AccountID, s.FormID, s.Status, mustJSON(s.Reasons), s.ProspectID, mustJSON(nonNilMap(s.Fields)),
			mustJSON(nonNilMap(s.Attribution)), s.ConsentText, s.IP, s.UserAgent, s.Created.Unix())
		if err != nil {
			return err
		}
		if db.noEvents {
			return nil
		}
		e := store.NewSubmissionEvent(ctx, s)
		hidden := false // the event of a hidden prospect's submission is for admin keys only
		if s.ProspectID != "" {
			if err := tx.QueryRowContext(ctx, `SELECT hidden FROM prospects WHERE id = ?`, s.ProspectID).Scan(&hidden); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, insertEvent, e.ID, e.AccountID, e.Type, mustJSON(s), nil, hidden, e.Request.ID,
			e.Request.IdempotencyKey, e.Created.Unix(), s.ID); err != nil {
			return err
		}
		return db.enqueueDeliveries(ctx, tx, &e)
	})
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// FormSubmission returns one submission of the account's form.
func (db *DB) FormSubmission(ctx context.Context, accountID, formID, id string) (_ *store.FormSubmission, err error) {
	defer unavailable(&err)
	return scanSubmission(db.queryRow(ctx, `SELECT `+submissionCols+` FROM form_submissions
		WHERE id = ? AND form_id = ? AND account_id = ?`, id, formID, accountID))
}

// ListFormSubmissions returns a keyset page of a form's submissions, newest first.
func (db *DB) ListFormSubmissions(ctx context.Context, accountID, formID string, p store.SubmissionListParams) (_ []store.FormSubmission, more bool, err error) {
	defer unavailable(&err)
	q := new(strings.Builder)
	q.WriteString(`SELECT ` + submissionCols + ` FROM form_submissions WHERE form_id = ? AND account_id = ?`)
	args := []any{formID, accountID}
	if p.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, p.Status)
	}
	return listPage(ctx, db, q, args, store.Keyset{Limit: p.Limit, StartingAfter: p.StartingAfter}, scanSubmission)
}

// AcceptFormSubmission marks a submission accepted, with its prospect.
func (db *DB) AcceptFormSubmission(ctx context.Context, accountID, id, prospectID string) (err error) {
	defer unavailable(&err)
	return db.inTx(ctx, func(tx *writeTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE form_submissions SET status = ?, prospect_id = ? WHERE id = ? AND account_id = ?`,
			store.SubmissionAccepted, prospectID, id, accountID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE events SET hidden = (SELECT hidden FROM prospects WHERE id = ?3)
			WHERE account_id = ?1 AND object_id = ?2`, accountID, id, prospectID)
		return err
	})
}

// personsSubmissions selects the ids of the submissions of the account (?1)
// that made or changed prospect ?2, or hold its email ?3 and made none.
const personsSubmissions = `SELECT id FROM form_submissions WHERE account_id = ?1 AND prospect_id = ?2
	UNION SELECT id FROM form_submissions WHERE account_id = ?1 AND prospect_id = '' AND json_extract(fields, '$.email') = ?3`

// ProspectSubmissions returns the person's submissions, newest first.
func (db *DB) ProspectSubmissions(ctx context.Context, accountID, prospectID, email string) (_ []store.FormSubmission, err error) {
	defer unavailable(&err)
	rows, err := db.read.QueryContext(ctx, `SELECT `+submissionCols+` FROM form_submissions
		WHERE id IN (`+personsSubmissions+`) ORDER BY id DESC`, accountID, prospectID, normaliseEmail(email))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.FormSubmission{}
	for rows.Next() {
		s, err := scanSubmission(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// forgetSubmissions scrubs, in a deletion's transaction, the person's
// submissions and their events of every personal value: the submitted
// fields, the attribution, the address and the browser.
func forgetSubmissions(ctx context.Context, tx *writeTx, p *store.Prospect) error {
	if _, err := tx.ExecContext(ctx, `UPDATE events SET prospect = json_set(prospect, '$.Fields', json('{}'),
		'$.Attribution', json('{}'), '$.IP', '', '$.UserAgent', '')
		WHERE account_id = ?1 AND object_id IN (`+personsSubmissions+`)`,
		p.AccountID, p.ID, p.Email); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE form_submissions SET fields = '{}', attribution = '{}', ip = '', user_agent = ''
		WHERE id IN (`+personsSubmissions+`)`, p.AccountID, p.ID, p.Email)
	return err
}

// followSubmissionsHidden makes the events of the submissions that made or
// changed p follow its hidden flag.
func followSubmissionsHidden(ctx context.Context, tx *writeTx, p *store.Prospect) error {
	_, err := tx.ExecContext(ctx, `UPDATE events SET hidden = ?3 WHERE account_id = ?1 AND object_id IN
		(SELECT id FROM form_submissions WHERE account_id = ?1 AND prospect_id = ?2)`, p.AccountID, p.ID, p.Hidden)
	return err
}
