package memo

import "sync"

// Memo is a set of remembered values by key. The zero value is ready.
type Memo struct {
	mu sync.Mutex
	m  map[string]any
}

// Get returns the value remembered under key, computing and remembering it
// first if there is none. Values of one key must be of one type.
func Get[T any](m *Memo, key string, compute func() (T, error)) (T, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[key]; ok {
		return v.(T), nil
	}
	v, err := compute()
	if err == nil {
		if m.m == nil {
			m.m = map[string]any{}
		}
		m.m[key] = v
	}
	return v, err
}

// Forget drops remembered values that turned out stale.
func (m *Memo) Forget(keys ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.m, k)
	}
}
