// Package mototest runs moto's EC2 server (moto_server) for the tests of
// the aws substrate: one server per test binary on a free loopback port,
// with AMI, key pair and instance type validation on, reset before each
// test. Without moto_server the tests skip, unless STRATA_REQUIRE_AWS is
// set (make test sets it), and then they fail.
package mototest
