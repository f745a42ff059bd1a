package usage

// NewCountersWithLimit returns Counters whose sets hold at most limit IDs.
func NewCountersWithLimit(limit int) *Counters { return &Counters{limit: limit} }

// LoseCommitAnswer makes lose decide, after each flush that committed,
// whether it reports the COMMIT as failed, as when the connection drops
// before the answer arrives.
func (f *Flusher) LoseCommitAnswer(lose func() bool) { f.loseCommitAnswer = lose }

// OnSendDone calls done with each snapshot's ID once the sender is done with
// it: sent, or given up on, and recorded on its row.
func (s *Snapshotter) OnSendDone(done func(id int64)) { s.sendDone = done }
