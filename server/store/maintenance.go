package store

import "context"

// Maintenance is the maintenance-mode flag every replica reads.
type Maintenance struct {
	On         bool
	RetryAfter int // seconds clients are told to wait
}

// MaintenanceStore keeps the maintenance flag, in the database so that every
// replica reads the same one.
type MaintenanceStore interface {
	// SetMaintenance turns maintenance mode on or off for every replica.
	SetMaintenance(ctx context.Context, m Maintenance) error
	// Maintenance reads the maintenance flag.
	Maintenance(ctx context.Context) (Maintenance, error)
}

// SchemaChange says what bringing a database's schema up to date did: how
// many of the embedded migrations it applied, of how many there are.
type SchemaChange struct {
	Applied, Total int
}
