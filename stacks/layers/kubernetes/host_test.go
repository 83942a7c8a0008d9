package kubernetes

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func workload(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// rolledOut reads the same status fields kubectl rollout status reads.
func TestRolledOut(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		done      bool
		why, err  string
	}{
		{"statefulset ready", `{kind: StatefulSet, metadata: {generation: 2}, spec: {replicas: 3}, status: {observedGeneration: 2, readyReplicas: 3, updatedReplicas: 3}}`, true, "", ""},
		{"statefulset scaling", `{kind: StatefulSet, metadata: {generation: 2}, spec: {replicas: 3}, status: {observedGeneration: 2, readyReplicas: 2, updatedReplicas: 3}}`, false, "2/3 replicas ready", ""},
		{"spec not seen yet", `{kind: StatefulSet, metadata: {generation: 3}, spec: {replicas: 3}, status: {observedGeneration: 2, readyReplicas: 3, updatedReplicas: 3}}`, false, "not seen the latest spec", ""},
		{"statefulset of zero", `{kind: StatefulSet, metadata: {generation: 1}, spec: {replicas: 0}, status: {observedGeneration: 1}}`, true, "", ""},
		{"deployment available", `{kind: Deployment, metadata: {generation: 1}, spec: {replicas: 2}, status: {observedGeneration: 1, availableReplicas: 2, updatedReplicas: 2, conditions: [{type: Available, status: "True"}]}}`, true, "", ""},
		{"deployment not available", `{kind: Deployment, metadata: {generation: 1}, spec: {replicas: 2}, status: {observedGeneration: 1, availableReplicas: 2, updatedReplicas: 2, conditions: [{type: Available, status: "False"}]}}`, false, "2/2 replicas available", ""},
		{"deployment default replicas", `{kind: Deployment, metadata: {generation: 1}, spec: {}, status: {observedGeneration: 1, availableReplicas: 1, updatedReplicas: 1, conditions: [{type: Available, status: "True"}]}}`, true, "", ""},
		{"daemonset", `{kind: DaemonSet, metadata: {generation: 1}, status: {observedGeneration: 1, desiredNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3}}`, false, "2/3 ready", ""},
		{"job complete", `{kind: Job, metadata: {generation: 1}, status: {succeeded: 1, conditions: [{type: Complete, status: "True"}]}}`, true, "", ""},
		{"job running", `{kind: Job, metadata: {generation: 1}, status: {active: 1}}`, false, "0 succeeded", ""},
		{"job failed", `{kind: Job, metadata: {generation: 1}, status: {conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded, message: "Job has reached the specified backoff limit"}]}}`, false, "", "BackoffLimitExceeded Job has reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, why, err := rolledOut(workload(t, tc.doc))
			if done != tc.done || !strings.Contains(why, tc.why) || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("rolledOut = %v, %q, %v; want %v, %q, %q", done, why, err, tc.done, tc.why, tc.err)
			}
		})
	}
}
