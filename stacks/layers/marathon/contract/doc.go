// Package contract holds Marathon's published v2 REST API contract (the RAML
// 1.0 type libraries and example bodies copied unchanged from Marathon, see
// README.md) and validates JSON documents against its types, so that what
// we send Marathon is held to Marathon's contract rather than to our own
// structs.
//
// Types are named as in the RAML: "App" (app.raml; the body of POST
// /v2/apps and PUT /v2/apps/{id}), "App[]" (PUT and PATCH /v2/apps),
// "GroupUpdate" (group.raml; the body of POST and PUT /v2/groups) and
// "GroupInfo" (what GET /v2/groups returns). group.raml declares no type
// called Group. A name may be qualified by its file, "app.App", and must be
// if more than one file declares it.
//
// RAML 1.0 object types are open unless they say additionalProperties:
// false, and no Marathon type says so: by the contract an App may carry
// fields it does not declare. Validate follows the contract; ValidateStrict
// also rejects fields the contract does not declare, to catch misspelt or
// invented names in what we send.
package contract
