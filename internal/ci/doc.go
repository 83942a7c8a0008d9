// Package ci says who runs this process, from its environment: the CI job
// (GitHub Actions, GitLab CI, Jenkins, Buildkite) when there is one, else
// the user and host. State locks name it as their holder, and machines
// carry it as their author (strata:created-by).
package ci
