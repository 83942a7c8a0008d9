// Package marathontest is a stateful test server for Marathon's REST API
// v2. It is a test server, not Marathon: Marathon and Mesos cannot run on
// the machines Strata is built and tested on (both projects are retired;
// no registry here has them), so clients are tested against this instead.
// Nothing runs: no Mesos, no agents, no containers. Apps have tasks that
// exist only as counters moving on a clock.
//
// What it holds to is Marathon's published v2 contract (package contract,
// copied from Marathon's RAML): every app and group body is checked with
// contract.ValidateStrict ("App", "GroupUpdate") and refused with
// Marathon's 422 error shape when it does not match, including fields the
// contract does not declare; paths, verbs, query parameters (force,
// partialUpdate, embed, label, id), status codes and answer bodies follow
// v2/apps.raml, groups.raml, deployments.raml, info.raml, leader.raml and
// traits.raml, and the answers validate as AppList, GroupInfo,
// DeploymentStepInfo[], DeploymentResult and MarathonInfo.
//
// What it models of Marathon's behaviour, beyond the contract:
//
//   - apps and groups form one tree under "/"; parents are made as needed;
//     a group PUT replaces the apps and groups it lists and stops those it
//     no longer lists, and leaves them alone when it lists none;
//   - every change is a deployment listed by GET /v2/deployments until its
//     apps have converged and at least Options.DeployTicks ticks passed; a
//     change that changes nothing (the same definition again) starts no
//     deployment; only an instance count changed only scales (existing
//     tasks stay), any other change replaces the tasks;
//   - tasks are staged, then running after StageTicks, then healthy after
//     HealthTicks when the app has health checks; apps wait for the apps
//     and groups they depend on to converge before launching;
//   - a write touching an app a running deployment touches is refused with
//     409 and the deployment ids unless force=true, which cancels them;
//   - with no leader (SetLeader, NoLeaderFor) /v2/info says elected false,
//     /v2/leader answers 404 and everything else 503;
//   - app lists carry task counts, deployments and lastTaskFailure only
//     when embed names them: apps.raml asks clients to name every embed,
//     as Marathon's default "will change";
//   - FailTasks makes an app's tasks fail when they would start running:
//     they never run, lastTaskFailure carries the message, and the app's
//     deployment never ends, as in Marathon.
//
// Not modelled: pods, tasks endpoints, readiness checks, upgrade
// strategies (all tasks are replaced at once), scaleBy and version
// rollbacks (501), authentication, events, and GET /v2/apps/{id} (501:
// the contract types its answer as the app list, Marathon answers {"app":
// ...}; use GET /v2/apps?id=).
package marathontest
