// Package release builds what a release of Strata ships, in the shape
// the Terraform Registry and Terraform's provider mirrors take: the
// provider's zips per platform (terraform-provider-strata_VERSION_OS_ARCH.zip
// holding terraform-provider-strata_vVERSION), the registry manifest,
// SHA256SUMS and its detached GPG signature, the strata CLI's archives;
// and the layout of a network mirror (index.json, VERSION.json with h1
// hashes) or of Terraform's implied local mirror.
package release
