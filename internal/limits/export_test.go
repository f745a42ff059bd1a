package limits

// AbandonForTest stops the engine's loops without releasing its leases, as
// a replica killed with SIGKILL would leave them.
func (e *Engine) AbandonForTest() {
	if e.stopped.Swap(true) {
		return
	}
	e.unsubscribe()
	e.cancel()
	e.wg.Wait()
}
