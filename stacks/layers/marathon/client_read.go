package marathon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Info is what GET /v2/info says of the Marathon answering (info.raml's
// MarathonInfo, the fields Strata reads).
type Info struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Elected     bool   `json:"elected"` // this instance is the leader
	Leader      string `json:"leader"`
	FrameworkID string `json:"frameworkId"`
}

// AppInfo is an app as Marathon reports it (app.raml's AppInfo): the
// fields Strata reads of the definition, the task counts and the last
// task failure.
type AppInfo struct {
	ID           string            `json:"id"`
	Instances    int               `json:"instances"`
	Labels       map[string]string `json:"labels"`
	HealthChecks []map[string]any  `json:"healthChecks"`
	Version      string            `json:"version"`

	TasksStaged     int           `json:"tasksStaged"`
	TasksRunning    int           `json:"tasksRunning"`
	TasksHealthy    int           `json:"tasksHealthy"`
	TasksUnhealthy  int           `json:"tasksUnhealthy"`
	Deployments     []Identifiers `json:"deployments"`
	LastTaskFailure *TaskFailure  `json:"lastTaskFailure"`
}

// Identifiers is strings.Identifiable: an object naming a deployment.
type Identifiers struct {
	ID string `json:"id"`
}

// TaskFailure is the last task of an app that failed (task.raml).
type TaskFailure struct {
	AppID     string `json:"appId"`
	Host      string `json:"host"`
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"` // the app version the task ran
}

// GroupInfo is a group as Marathon reports it (group.raml's GroupInfo).
type GroupInfo struct {
	ID           string      `json:"id"`
	Apps         []AppInfo   `json:"apps"`
	Groups       []GroupInfo `json:"groups"`
	Dependencies []string    `json:"dependencies"`
	Version      string      `json:"version"`
}

// AllApps lists the apps of g and of every group under it.
func (g GroupInfo) AllApps() []AppInfo {
	out := slices.Clone(g.Apps)
	for _, sub := range g.Groups {
		out = append(out, sub.AllApps()...)
	}
	return out
}

// ErrNoLeader says Marathon answered that no instance leads yet.
var ErrNoLeader = errors.New("marathon has no leader")

// Info reads GET /v2/info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var i Info
	_, err := c.do(ctx, http.MethodGet, "/v2/info", nil, nil, &i)
	return i, err
}

// Leader returns the leading instance's host:port (GET /v2/leader); while
// none leads the error wraps ErrNoLeader and Marathon's 404.
func (c *Client) Leader(ctx context.Context) (string, error) {
	var l struct {
		Leader string `json:"leader"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v2/leader", nil, nil, &l)
	if IsNotFound(err) {
		return "", fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	if err == nil && l.Leader == "" {
		err = fmt.Errorf("marathon %s: GET /v2/leader named no leader: %w", c.base, ErrNoLeader)
	}
	return l.Leader, err
}

// appEmbeds are what the app lists ask Marathon to embed. apps.raml says
// counts are embedded by default "but this will change", and asks clients
// to name every embed. Its enum spells the counts "apps.count" while its
// description and Marathon say "apps.counts"; the latter is sent.
func appEmbeds() []string {
	return []string{"apps.counts", "apps.deployments", "apps.lastTaskFailure"}
}

// Apps lists the apps that carry every label of labels (all apps when
// labels is empty), with their task counts, deployments and last failure.
func (c *Client) Apps(ctx context.Context, labels map[string]string) ([]AppInfo, error) {
	q := url.Values{"embed": appEmbeds()}
	if len(labels) > 0 {
		q.Set("label", LabelSelector(labels))
	}
	return c.apps(ctx, q)
}

// App returns the app id as Apps does; an *Error with status 404 when
// there is none. It reads GET /v2/apps?id=, whose answer the contract
// types (AppList), rather than GET /v2/apps/{id}, whose it does not.
func (c *Client) App(ctx context.Context, id string) (AppInfo, error) {
	id = "/" + strings.Trim(id, "/")
	list, err := c.apps(ctx, url.Values{"embed": appEmbeds(), "id": {id}})
	if err != nil {
		return AppInfo{}, err
	}
	// The filter matches ids that contain id.
	for _, a := range list {
		if a.ID == id {
			return a, nil
		}
	}
	return AppInfo{}, &Error{Method: http.MethodGet, Path: "/v2/apps?id=" + id, Status: http.StatusNotFound,
		Message: fmt.Sprintf("App '%s' does not exist", id)}
}

func (c *Client) apps(ctx context.Context, q url.Values) ([]AppInfo, error) {
	var l struct {
		Apps []AppInfo `json:"apps"`
	}
	_, err := c.do(ctx, http.MethodGet, "/v2/apps", q, nil, &l)
	return l.Apps, err
}

// Group reads the group id with its groups and apps, all the way down,
// each app with its task counts, deployments and last failure.
func (c *Client) Group(ctx context.Context, id string) (GroupInfo, error) {
	q := url.Values{"embed": {"group.groups", "group.apps", "group.apps.counts", "group.apps.deployments", "group.apps.lastTaskFailure"}}
	var g GroupInfo
	_, err := c.do(ctx, http.MethodGet, idPath("groups", id), q, nil, &g)
	return g, err
}

// LabelSelector is the label query (apps.raml) that matches apps carrying
// every label of labels: "k==v" terms joined by commas, in key order.
// Outside -A-Za-z0-9_. every character is escaped with a backslash, as
// label keys like stratastack.io/stack need.
func LabelSelector(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	terms := make([]string, len(keys))
	for i, k := range keys {
		terms[i] = escapeLabel(k) + "==" + escapeLabel(labels[k])
	}
	return strings.Join(terms, ",")
}

func escapeLabel(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !labelChar(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// labelChar reports whether r may stand unescaped in a label selector.
func labelChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}
