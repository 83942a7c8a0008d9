// Package pgtest runs a real PostgreSQL for tests: Debian's initdb and
// pg_ctl in a temporary folder, listening on a free loopback port, as the
// postgres user when the tests run as root (PostgreSQL refuses root),
// stopped by pg_ctl when the test ends.
package pgtest
