package marathontest

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// app is one app: its definition as submitted and its make-believe tasks.
type app struct {
	id        string
	def       map[string]any // without version fields; instances always set
	instances int
	health    bool
	deps      []string // absolute ids of apps or groups
	labels    map[string]string
	version   string
	configAt  string // versionInfo.lastConfigChangeAt
	tasks     []*task
	failure   map[string]any // lastTaskFailure (task.raml's TaskFailure)
}

type task struct {
	id      string
	staged  int // tick it was staged at
	running int // tick it started running at; -1 while staged
	healthy bool
}

type group struct {
	id      string
	deps    []any
	version string
}

// deployment is a running change; its actions name the apps it affects.
type deployment struct {
	id, version string
	started     int
	actions     []action
}

type action struct{ name, app string }

func (d *deployment) apps() []string {
	out := make([]string, len(d.actions))
	for i, a := range d.actions {
		out[i] = a.app
	}
	return out
}

// parent is the group an app or group id sits in.
func parent(id string) string { return path.Dir(id) }

// under reports whether id is root or inside it.
func under(id, root string) bool {
	return id == root || root == "/" || strings.HasPrefix(id, root+"/")
}

// resolve makes id absolute against base, as Marathon resolves the
// relative ids of apps and groups against the group they are in.
func resolve(base, id string) string {
	if !strings.HasPrefix(id, "/") {
		id = base + "/" + id
	}
	return path.Clean(id)
}

// advance moves the clock: one tick per state read, or by wall time.
func (s *Server) advance() {
	if s.opts.TickEvery <= 0 {
		s.step()
		return
	}
	due := int(time.Since(s.born) / s.opts.TickEvery)
	// A long idle spell needs no more than this to settle everything.
	for n := 0; s.tick < due && n < 1000; n++ {
		s.step()
	}
	s.tick = max(s.tick, due)
}

// step is one tick: tasks launch, run, turn healthy or fail; deployments
// whose apps converged end.
func (s *Server) step() {
	s.tick++
	for _, id := range slices.Sorted(maps.Keys(s.apps)) {
		a := s.apps[id]
		if s.depsConverged(a) {
			for len(a.tasks) < a.instances {
				s.launched[id]++
				a.tasks = append(a.tasks, &task{
					id:     fmt.Sprintf("%s.instance-%d", strings.ReplaceAll(strings.Trim(id, "/"), "/", "_"), s.launched[id]),
					staged: s.tick, running: -1,
				})
			}
		}
		kept := a.tasks[:0]
		for _, t := range a.tasks {
			switch {
			case t.running < 0 && s.tick-t.staged >= s.opts.StageTicks:
				if msg, bad := s.failing[id]; bad {
					a.failure = map[string]any{
						"appId": id, "host": "127.0.0.1", "message": msg, "state": "TASK_FAILED",
						"taskId": t.id, "timestamp": s.stamp(), "version": a.version, "slaveId": "marathontest-agent-0",
					}
					continue // Marathon launches a replacement next
				}
				t.running = s.tick
			case t.running >= 0 && a.health && !t.healthy && s.tick-t.running >= s.opts.HealthTicks:
				t.healthy = true
			}
			kept = append(kept, t)
		}
		a.tasks = kept
	}
	s.deployments = slices.DeleteFunc(s.deployments, func(d *deployment) bool {
		if s.tick-d.started < s.opts.DeployTicks {
			return false
		}
		for _, ac := range d.actions {
			if a := s.apps[ac.app]; a != nil && ac.name != "StopApplication" && !a.converged() {
				return false
			}
		}
		return true
	})
}

// counts are an app's tasks staged, running and healthy.
func (a *app) counts() (staged, running, healthy int) {
	for _, t := range a.tasks {
		switch {
		case t.running < 0:
			staged++
		case t.healthy:
			running++
			healthy++
		default:
			running++
		}
	}
	return staged, running, healthy
}

// converged reports whether the app runs all its instances, healthy when
// it has health checks.
func (a *app) converged() bool {
	staged, running, healthy := a.counts()
	return staged == 0 && running == a.instances && (!a.health || healthy == a.instances)
}

// depsConverged reports whether what the app depends on has converged;
// dependencies that do not exist hold nothing up.
func (s *Server) depsConverged(a *app) bool {
	for _, dep := range a.deps {
		for id, b := range s.apps {
			if under(id, dep) && !b.converged() {
				return false
			}
		}
	}
	return true
}
