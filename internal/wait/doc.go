// Package wait holds the one context-aware pause that retry and poll
// loops share.
package wait
