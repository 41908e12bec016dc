package sqlite

import (
	"database/sql"
	"testing"
	"unicode/utf8"
)

// TestSearchFoldAgreesWithIndex tokenizes every character of the Basic
// Multilingual Plane and the first astral plane with the trigram tokenizer the
// index uses (each after "aa", one trigram a row) and reads back the trigram
// it indexed: searchFold must fold each character to what the index holds.
func TestSearchFoldAgreesWithIndex(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		`CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'trigram')`,
		`CREATE VIRTUAL TABLE v USING fts5vocab (t, instance)`,
		`BEGIN`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	insert, err := db.Prepare(`INSERT INTO t (rowid, x) VALUES (?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for c := rune(1); c < 0x20000; c++ {
		if !utf8.ValidRune(c) {
			continue
		}
		if _, err := insert.Exec(int64(c), "aa"+string(c)); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if _, err := db.Exec(`COMMIT`); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT doc, term FROM v`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen, wrong := 0, 0
	for rows.Next() {
		var doc int64
		var term string
		if err := rows.Scan(&doc, &term); err != nil {
			t.Fatal(err)
		}
		seen++
		if want := "aa" + string(searchFold(rune(doc))); term != want && wrong < 20 {
			wrong++
			t.Errorf("U+%04X: the index holds %q, searchFold gives %q", doc, term, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Errorf("the index holds %d trigrams of %d characters", seen, n)
	}
}
