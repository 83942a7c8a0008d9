// Package mototest runs moto's EC2 server (moto_server) for the tests of
// the aws substrate and for `strata sim aws`: a server on a free loopback
// port with AMI, key pair and instance type validation on, reset before
// each test; a World in it (an AMI, three subnets in three zones, a
// security group, a key pair) and checks of what EC2 holds; and a fault
// Proxy injecting what moto cannot (throttling, refusals, lost answers,
// instances held pending). Without moto_server the tests skip, unless
// STRATA_REQUIRE_AWS is set (make test sets it), and then they fail.
package mototest
