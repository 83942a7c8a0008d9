// Package cloudtest finds the OpenStack test cloud that
// acceptance/openstack/up.sh brings up, for the tests that run against it:
// they skip without one, unless STRATA_REQUIRE_OPENSTACK is set (make test
// sets it), and then they fail.
package cloudtest
