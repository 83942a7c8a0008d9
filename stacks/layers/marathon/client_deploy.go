package marathon

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stratastack/strata/internal/wait"

	"github.com/stratastack/strata/provisioners"
)

// Deployment is a running deployment, as GET /v2/deployments lists it
// (deploymentEventsInfo.raml's DeploymentStepInfo, the fields Strata
// reads). A deployment gone from the list has ended.
type Deployment struct {
	ID             string             `json:"id"`
	Version        string             `json:"version"`
	AffectedApps   []string           `json:"affectedApps"`
	AffectedPods   []string           `json:"affectedPods"`
	CurrentStep    int                `json:"currentStep"`
	TotalSteps     int                `json:"totalSteps"`
	CurrentActions []DeploymentAction `json:"currentActions"`
}

// DeploymentAction is one action of a deployment's current step.
type DeploymentAction struct {
	Action string `json:"action"` // StartApplication, ScaleApplication, ...
	App    string `json:"app,omitempty"`
	Pod    string `json:"pod,omitempty"`
}

// Deployments lists the running deployments.
func (c *Client) Deployments(ctx context.Context) ([]Deployment, error) {
	var ds []Deployment
	_, err := c.do(ctx, http.MethodGet, "/v2/deployments", nil, nil, &ds)
	return ds, err
}

func (c *Client) deploymentsByID(ctx context.Context, ids []string) ([]Deployment, error) {
	all, err := c.Deployments(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(d Deployment) bool { return !slices.Contains(ids, d.ID) }), nil
}

// maxPollFailures bounds the transient failures in a row WaitDeployments
// rides out (a leader failing over) before it gives up.
const maxPollFailures = 5

// WaitDeployments polls GET /v2/deployments until none of ids is listed,
// backing off from Backoff to MaxBackoff; ctx bounds it. Empty ids ("" as
// an id) are ignored.
func (c *Client) WaitDeployments(ctx context.Context, ids ...string) error {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" })
	if len(ids) == 0 {
		return nil
	}
	pause := c.backoff()
	failures := 0
	still := ids
	for {
		ds, err := c.Deployments(ctx)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("marathon %s: waiting for deployments %s: %w", c.base, strings.Join(still, ", "), ctx.Err())
		case err != nil && provisioners.IsTransient(err) && failures < maxPollFailures:
			failures++
		case err != nil:
			return err
		default:
			failures = 0
			still = slices.DeleteFunc(slices.Clone(ids), func(id string) bool {
				return !slices.ContainsFunc(ds, func(d Deployment) bool { return d.ID == id })
			})
			if len(still) == 0 {
				return nil
			}
		}
		if err := wait.Sleep(ctx, pause); err != nil {
			return fmt.Errorf("marathon %s: waiting for deployments %s: %w", c.base, strings.Join(still, ", "), err)
		}
		pause = min(2*pause, c.maxBackoff())
	}
}
