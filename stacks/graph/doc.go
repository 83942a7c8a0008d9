// Package graph draws a stack as a Graphviz DOT digraph: substrates and
// layers as clusters, pools with their sizes, the roles placed on pools, the
// roles hosted on other layers, and pools placed on layers, with the plan's
// stage numbers, so the bring-up reads from the bottom (substrates) to the
// top (the deepest layer). Given a recorded stack's machines it colours what
// exists and what is missing. Rendering the DOT (dot -Tsvg) is the caller's.
package graph
