package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/stratastack/strata/internal/version"
	"github.com/stratastack/strata/provider"
)

// buildVersion and buildCommit are set by the build (-ldflags "-X
// main.buildVersion=$(cat VERSION) -X main.buildCommit=$(git rev-parse HEAD)").
var buildVersion, buildCommit = "dev", ""

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers like delve")
	showVersion := flag.Bool("version", false, "print this build's version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("terraform-provider-strata " + version.Of(buildVersion, buildCommit).String())
		return
	}
	err := providerserver.Serve(context.Background(), provider.New(buildVersion), providerserver.ServeOpts{
		Address:         provider.Address,
		Debug:           *debug,
		ProtocolVersion: 6,
	})
	if err != nil {
		log.Fatal(err)
	}
}
