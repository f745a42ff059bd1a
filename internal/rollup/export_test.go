package rollup

import "context"

// SetAfterLockForTest makes every tick call f inside its transaction once it
// holds the usage_rollup lock, before any work: a test holds the lock there
// to make another replica's tick meet it. Call before Run.
func (s *Service) SetAfterLockForTest(f func(ctx context.Context)) { s.afterLock = f }

// SetAfterTickForTest makes Run call f with each tick's outcome, before it
// arms the next tick. Call before Run.
func (s *Service) SetAfterTickForTest(f func(Result, error)) { s.afterTick = f }

// WholeDays is the days Totals reads from usage_daily.
var WholeDays = wholeDays
