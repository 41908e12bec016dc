package store

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Conflict says what UpsertProspects does with item k, whose email the live
// prospect existing has (one of the account's, or one an earlier item created
// or updated): a patch to apply to it; nil to answer it as it is; or the
// item's error.
type Conflict func(k int, existing *Prospect) (*ProspectPatch, error)

// Upserted is one item's outcome of UpsertProspects: the prospect as the item
// left it, whether the item created it, or the item's error.
type Upserted struct {
	Prospect *Prospect
	Created  bool
	Err      error
}

// UpsertPlan is a batch of UpsertProspects decided in memory, item by item in
// order, before anything is written: what each item answers, and the few
// statements that write them all.
type UpsertPlan struct {
	Out []Upserted
	// Insert is the prospects the batch creates, each in its state after the
	// batch (a later item may have updated it), in order.
	Insert []*Prospect
	// Update is the account's prospects the batch changed, each in its state
	// after the batch.
	Update []*Prospect
	// Events is one event an item that wrote, in the items' order.
	Events []Event
	// Consents is the consent ledger's entries of the items that gave or
	// withdrew consent, in order.
	Consents []Consent
	// Rehidden is the prospects whose hidden flag the batch changed, with the
	// flag before it: their earlier events follow it once the events are in.
	Rehidden []Rehidden
}

// Rehidden is a prospect the batch hid or showed, and its flag before.
type Rehidden struct {
	Prospect  *Prospect
	WasHidden bool
}

// UpsertInput is what PlanUpsert needs besides the items.
type UpsertInput struct {
	// Live is the account's live prospects with the items' emails (normalised),
	// by email, as read in the batch's transaction.
	Live map[string]*Prospect
	// Suppressed says whether an email is on the account's suppression list.
	Suppressed func(email string) (bool, error)
	// Room is how many prospects the plan still allows.
	Room int64
	// NewRow gives a prospect to insert its id, times and defaults.
	NewRow func(*Prospect)
	// Conflict, Check: as UpsertProspects takes them.
	Conflict Conflict
	Check    func(*Prospect) error
	Now      time.Time
}

// PlanUpsert decides the outcome of each of ps (normalised) as a
// CreateProspect of it or, on a conflict, an UpdateProspect of the existing
// prospect would, one after another, without writing: the engines then write
// the plan in a few statements. An error is no item's.
func PlanUpsert(ctx context.Context, ps []*Prospect, in UpsertInput) (*UpsertPlan, error) {
	plan := &UpsertPlan{Out: make([]Upserted, len(ps))}
	cur := map[string]*Prospect{}  // by email: the prospect's state so far
	created := map[string]bool{}   // by id: created by the batch
	wasHidden := map[string]bool{} // by id: the hidden flag before the batch
	changed := []string{}          // ids of the account's prospects the batch changed, in order
	for k, p := range ps {
		existing := cur[p.Email]
		if existing == nil {
			existing = in.Live[p.Email]
		}
		if existing != nil {
			patch, err := in.Conflict(k, existing)
			switch {
			case err != nil:
				plan.Out[k].Err = err
				continue
			case patch == nil:
				plan.Out[k].Prospect = existing
				continue
			}
			u := clone(existing)
			consent := u.MarketingConsent
			prev, hidden, err := patch.Update(u, in.Now, in.Check)
			if err != nil {
				plan.Out[k].Err = err
				continue
			}
			if _, seen := wasHidden[u.ID]; !seen {
				wasHidden[u.ID] = existing.Hidden
			}
			if u.MarketingConsent != consent {
				plan.Consents = append(plan.Consents, NewConsent(ctx, u, patch.ConsentText))
			}
			plan.Events = append(plan.Events, NewEvent(ctx, EventProspectUpdated, u, prev, hidden))
			if cur[u.Email] == nil && !created[u.ID] {
				changed = append(changed, u.ID)
			}
			cur[u.Email] = u
			plan.Out[k].Prospect = u
			continue
		}
		if in.Suppressed != nil {
			suppressed, err := in.Suppressed(p.Email)
			if err != nil {
				return nil, err
			}
			if suppressed {
				plan.Out[k].Err = ErrSuppressed
				continue
			}
		}
		if int64(len(created)) >= in.Room {
			plan.Out[k].Err = ErrPlanLimit
			continue
		}
		in.NewRow(p)
		if p.MarketingConsent {
			plan.Consents = append(plan.Consents, NewConsent(ctx, p, p.ConsentText))
		}
		plan.Events = append(plan.Events, NewEvent(ctx, EventProspectCreated, p, nil, p.Hidden))
		created[p.ID], wasHidden[p.ID] = true, p.Hidden
		cur[p.Email] = p
		plan.Out[k] = Upserted{Prospect: p, Created: true}
	}
	byID := make(map[string]*Prospect, len(cur))
	for _, p := range cur {
		byID[p.ID] = p
	}
	for _, p := range ps { // in order: ps holds the created ones as they were created
		if p.ID != "" && created[p.ID] {
			plan.Insert = append(plan.Insert, byID[p.ID])
		}
	}
	for _, id := range changed {
		plan.Update = append(plan.Update, byID[id])
	}
	for _, id := range slices.Sorted(maps.Keys(wasHidden)) {
		if p := byID[id]; p.Hidden != wasHidden[id] {
			plan.Rehidden = append(plan.Rehidden, Rehidden{Prospect: p, WasHidden: wasHidden[id]})
		}
	}
	return plan, nil
}

// clone is a copy of p that an update can change without changing p.
func clone(p *Prospect) *Prospect {
	c := *p
	c.Tags = slices.Clone(p.Tags)
	c.Metadata = maps.Clone(p.Metadata)
	if p.Attribution != nil {
		a := *p.Attribution
		c.Attribution = &a
	}
	return &c
}
