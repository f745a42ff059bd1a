package server

// WithFailAt makes the named startup step of a System built with d fail.
func WithFailAt(d Deps, step string) Deps {
	d.failAt = step
	return d
}

// StepNames lists the startup steps in order.
func StepNames() []string {
	var names []string
	for _, st := range (&System{}).steps() {
		names = append(names, st.name)
	}
	return names
}
