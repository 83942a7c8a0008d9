package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	bolt "go.etcd.io/bbolt"
)

// Profile is what a machine boots: a kernel, initrds, a command line and the
// user-data its OS fetches. UserData is sensitive (it may carry join tokens or
// keys), so String, GoString and LogValue show only its size.
type Profile struct {
	Name     string   `json:"name"`
	Kernel   string   `json:"kernel"` // URL, absolute or relative to the boot server
	Initrd   []string `json:"initrd,omitempty"`
	Cmdline  string   `json:"cmdline,omitempty"`
	UserData []byte   `json:"user_data,omitempty"`
	// Discovery marks a profile the boot server may hand to unknown MACs.
	Discovery bool `json:"discovery,omitempty"`
}

func (p Profile) String() string {
	return fmt.Sprintf("profile %s (kernel %s, %d initrd, user-data %d bytes redacted, discovery %t)",
		p.Name, p.Kernel, len(p.Initrd), len(p.UserData), p.Discovery)
}

// GoString keeps %#v from printing the user-data.
func (p Profile) GoString() string { return "inventory.Profile{" + p.String() + "}" }

// LogValue keeps slog's JSON handler, which ignores String, from logging user-data.
func (p Profile) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", p.Name), slog.String("kernel", p.Kernel),
		slog.Int("user_data_bytes", len(p.UserData)), slog.Bool("discovery", p.Discovery))
}

func (p *Profile) validate() error {
	if err := checkName("profile", p.Name); err != nil {
		return err
	}
	for what, u := range map[string][]string{"kernel": {p.Kernel}, "initrd": p.Initrd} {
		for _, s := range u {
			if _, err := url.Parse(s); err != nil || s == "" {
				return fmt.Errorf("%w: profile %s: %s %q is not a URL", ErrInvalid, p.Name, what, s)
			}
		}
	}
	return nil
}

// PutProfile creates or replaces a profile.
func (s *Store) PutProfile(ctx context.Context, p Profile) error {
	if err := p.validate(); err != nil {
		return err
	}
	raw, err := encode(p)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProfiles).Put([]byte(p.Name), raw)
	})
}

// GetProfile returns the profile called name, or an error wrapping ErrNotFound.
func (s *Store) GetProfile(ctx context.Context, name string) (Profile, error) {
	var p Profile
	err := s.view(ctx, func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketProfiles).Get([]byte(name))
		if raw == nil {
			return fmt.Errorf("%w: profile %q", ErrNotFound, name)
		}
		var err error
		p, err = decode[Profile]("profile", []byte(name), raw)
		return err
	})
	return p, err
}

// ListProfiles returns every profile, sorted by name.
func (s *Store) ListProfiles(ctx context.Context) ([]Profile, error) {
	var out []Profile
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProfiles).ForEach(func(k, v []byte) error {
			p, err := decode[Profile]("profile", k, v)
			out = append(out, p)
			return err
		})
	})
	return out, err
}

// DeleteProfile removes a profile. It is refused (ErrInUse) while any machine
// uses it, so no machine is left pointing at nothing to boot; the check and the
// delete share one transaction, so a concurrent PutMachine cannot slip between.
func (s *Store) DeleteProfile(ctx context.Context, name string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketProfiles)
		if pb.Get([]byte(name)) == nil {
			return fmt.Errorf("%w: profile %q", ErrNotFound, name)
		}
		var users []string
		err := tx.Bucket(bucketMachines).ForEach(func(k, v []byte) error {
			m, err := decode[Machine]("machine", k, v)
			if err == nil && m.Profile == name {
				users = append(users, m.Name)
			}
			return err
		})
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: profile %s is used by machine(s) %v; delete or re-register them first", ErrInUse, name, users)
		}
		return pb.Delete([]byte(name))
	})
}
