package auth

// Lookups is how many token checks asked the database.
func Lookups(a *Authenticator) int { return int(a.lookups.Load()) }

// Waiting is how many callers wait for the lookup of token id under way.
func Waiting(a *Authenticator, id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f := a.flights[id]; f != nil {
		return f.waiters
	}
	return -1
}

// Cached is how many tokens the cache holds.
func Cached(a *Authenticator) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}
