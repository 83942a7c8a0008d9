// Package marathon holds Marathon's REST object shapes (apps and groups, as
// documented for Marathon 1.10/1.11) and checks a definition carries what
// Marathon requires before it is submitted.
package marathon
