package aws

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
)

// EC2 takes at most 16 KiB of user-data, counted before base64.
const maxUserData = 16 << 10

// userData is a machine's user-data as RunInstances wants it: base64,
// gzipped when it is larger than EC2 takes (cloud-init reads gzip), and
// refused when even that is too large.
func userData(name string, b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	if len(b) > maxUserData {
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		if z.Len() > maxUserData {
			return "", fmt.Errorf("aws: the user-data of %s is %d bytes, %d gzipped; EC2 takes at most %d: make the role's bootstrap smaller (fetch large files from S3 or a URL at boot)", name, len(b), z.Len(), maxUserData)
		}
		b = z.Bytes()
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
