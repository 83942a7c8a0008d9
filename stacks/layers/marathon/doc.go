// Package marathon holds Marathon's REST object shapes (apps and groups, as
// documented for Marathon 1.10/1.11), checks a definition carries what
// Marathon requires before it is submitted, and is a client of Marathon's
// REST v2 API (Client) written against its published contract: 409s wait
// for the blocking deployment, a missing leader and dropped connections
// are retried, and force is sent only where the caller decides it is safe.
package marathon
