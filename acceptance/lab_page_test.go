package acceptance

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// statusPage logs in to the boot server's status page as a browser does
// (the form, then the session cookie; the token only in the form's body)
// and returns the page.
func (l *testLab) statusPage() (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 5 * time.Second} // follows the login's 303 to the page
	resp, err := c.PostForm(l.bootServer+"/login", url.Values{"token": {l.token}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		return "", fmt.Errorf("status page login: %s at %s", resp.Status, resp.Request.URL.Path)
	}
	return string(b), nil
}

// stepDone is one finished boot step on the page.
var stepDone = regexp.MustCompile(`<span class="step done">.*?<span class="label">([a-zA-Z-]+)</span> <time datetime="[^"]+">`)

// checkStatusPage: the page shows every named machine ready, with all four
// boot steps done and timed, and nothing of the API token.
func (l *testLab) checkStatusPage(names []string) error {
	page, err := l.statusPage()
	if err != nil {
		return err
	}
	if strings.Contains(page, l.token) {
		return fmt.Errorf("the status page shows the API token")
	}
	for _, name := range names {
		start := strings.Index(page, fmt.Sprintf(`data-name="%s" data-progress="phone-home, ready">`, name))
		if start < 0 {
			return fmt.Errorf("the status page does not show %s ready:\n%s", name, page)
		}
		row := page[start:]
		row = row[:strings.Index(row, "</tr>")]
		var steps []string
		for _, m := range stepDone.FindAllStringSubmatch(row, -1) {
			steps = append(steps, m[1])
		}
		if strings.Join(steps, " ") != "DHCP script kernel phone-home" {
			return fmt.Errorf("the status page shows %s with the steps %v done, want DHCP, script, kernel and phone-home:\n%s", name, steps, row)
		}
	}
	return nil
}
