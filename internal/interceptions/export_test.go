package interceptions

import "context"

// WriteForTest writes batch with one COPY, as the writer does, without the
// queue or retries.
func (r *Recorder) WriteForTest(ctx context.Context, batch []Record) error {
	return r.copy(ctx, batch)
}

// DrainForTest empties the queue, forgetting the records.
func (r *Recorder) DrainForTest() {
	for {
		select {
		case rec := <-r.queue:
			r.release([]Record{rec})
		default:
			return
		}
	}
}

// SetAfterLockForTest makes each Tick call f once it holds the lock, before
// any work: a test holds one replica there while another ticks.
func (r *Retention) SetAfterLockForTest(f func()) { r.afterLock = f }
