-- +goose Up
-- Where a prospect came from through forms: {first_touch, last_touch}, NULL
-- when it never submitted one.
ALTER TABLE prospects ADD COLUMN attribution JSONB;

-- Public web forms: pages on allowed_origins post prospects to them without a key.
CREATE TABLE forms (
    id               TEXT COLLATE "C" PRIMARY KEY, -- frm_ + ULID
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    name             TEXT NOT NULL,
    allowed_origins  TEXT[] NOT NULL DEFAULT '{}',
    redirect_url     TEXT NOT NULL DEFAULT '',
    default_source   TEXT NOT NULL DEFAULT '',
    default_tags     TEXT[] NOT NULL DEFAULT '{}',
    consent_text     TEXT NOT NULL DEFAULT '',
    captcha_provider TEXT NOT NULL DEFAULT '',
    captcha_secret   TEXT NOT NULL DEFAULT '', -- sealed with the server's key when it has one
    disabled         BOOLEAN NOT NULL DEFAULT false,
    created          TIMESTAMPTZ NOT NULL
);
CREATE INDEX forms_account ON forms (account_id, id);

-- Every submission of a form, whatever its verdict.
CREATE TABLE form_submissions (
    id           TEXT COLLATE "C" PRIMARY KEY, -- fsub_ + ULID
    account_id   TEXT NOT NULL,
    form_id      TEXT NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,                -- accepted, quarantined
    reasons      TEXT[] NOT NULL DEFAULT '{}',
    prospect_id  TEXT NOT NULL DEFAULT '',
    fields       JSONB NOT NULL DEFAULT '{}',
    attribution  JSONB NOT NULL DEFAULT '{}',
    consent_text TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created      TIMESTAMPTZ NOT NULL
);
CREATE INDEX form_submissions_page ON form_submissions (form_id, id);

-- +goose Down
DROP TABLE form_submissions;
DROP TABLE forms;
ALTER TABLE prospects DROP COLUMN attribution;
