package interceptions

import "context"

// WriteForTest writes batch with one COPY, as the writer does, without the
// queue or retries.
func (r *Recorder) WriteForTest(ctx context.Context, batch []Record) error {
	return r.copy(ctx, batch)
}

// DiscardForTest stands in for Run in benchmarks of Record: it takes records
// off the queue and forgets them until ctx is done.
func (r *Recorder) DiscardForTest(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.queue:
			r.pending.Add(-1)
		}
	}
}
