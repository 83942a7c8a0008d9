// Package connect opens the provisioner for a stack's substrate block from
// the credentials a front end gathered (provider settings, environment):
// the one place that maps substrate kinds to their provisioners.
package connect
