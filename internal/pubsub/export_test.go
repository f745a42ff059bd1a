package pubsub

// ListenerPID returns the backend PID of the listener connection, or 0 while
// it is disconnected.
func (p *PubSub) ListenerPID() uint32 { return p.pid.Load() }
