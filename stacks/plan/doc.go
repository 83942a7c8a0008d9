// Package plan compiles a validated stack into what will be made: every
// machine of every pool with its stable name, tags and role, every role
// hosted on another layer, and the ordered steps that bring them up. It
// prints the plan as JSON or as tables, and renders one machine's bootstrap
// or one hosted role's objects through the layer kinds.
package plan
