# Draw the stack, then render it: dot -Tsvg edge.dot -o edge.svg
data "strata_graph" "edge" {
  path = "${path.module}/edge.strata.hcl"
  vars = { agents = 5 }
}

resource "local_file" "edge_dot" {
  filename = "${path.module}/edge.dot"
  content  = data.strata_graph.edge.dot
}
