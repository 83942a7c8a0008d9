package ci

import (
	"fmt"
	"os"
)

// Job is the URL of the CI job this process runs in, or "" outside CI.
func Job(getenv func(string) string) string {
	switch {
	case getenv("GITHUB_RUN_ID") != "":
		return fmt.Sprintf("%s/%s/actions/runs/%s", getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"))
	case getenv("CI_JOB_URL") != "":
		return getenv("CI_JOB_URL")
	case getenv("BUILD_URL") != "":
		return getenv("BUILD_URL")
	case getenv("BUILDKITE_BUILD_URL") != "":
		return getenv("BUILDKITE_BUILD_URL")
	}
	return ""
}

// User is user@host.
func User(getenv func(string) string) string {
	host, _ := os.Hostname()
	return getenv("USER") + "@" + host
}

// Author is who made what this process makes: the CI job, else user@host.
func Author(getenv func(string) string) string {
	if j := Job(getenv); j != "" {
		return j
	}
	return User(getenv)
}
