package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/plumbhq/plumb/client"
	"github.com/plumbhq/plumb/internal/config"
	"github.com/plumbhq/plumb/internal/dataset"
	"github.com/plumbhq/plumb/internal/provider"
	"github.com/plumbhq/plumb/internal/store"
)

// lazyStore opens the store on first use, so that a suite without registry references
// reports its config errors before the store is touched, and the store is opened once.
type lazyStore struct {
	open func() (store.Store, error)
	st   store.Store
	err  error
	done bool
}

func (l *lazyStore) get() (store.Store, error) {
	if !l.done {
		l.st, l.err = l.open()
		l.done = true
	}
	return l.st, l.err
}

// close closes the store if it was opened.
func (l *lazyStore) close() {
	if l.st != nil {
		l.st.Close()
	}
}

// storeRegistry resolves a suite's prompt:// and dataset:// references in the store's
// default project: the project of the CLI's runs.
type storeRegistry struct {
	ctx    context.Context
	stores *lazyStore
}

func (r storeRegistry) Prompt(name, ref string) (config.RegistryPrompt, error) {
	st, err := r.stores.get()
	if err != nil {
		return config.RegistryPrompt{}, err
	}
	v, err := st.GetPromptVersion(r.ctx, store.DefaultProjectID, name, ref)
	if errors.Is(err, store.ErrNotFound) {
		return config.RegistryPrompt{}, fmt.Errorf("%w: %s", config.ErrNotInRegistry, promptMissing(name, ref))
	}
	if errors.Is(err, store.ErrInvalid) {
		return config.RegistryPrompt{}, fmt.Errorf("%w: %v", config.ErrNotInRegistry, err)
	}
	if err != nil {
		return config.RegistryPrompt{}, err
	}
	return registryPrompt(v), nil
}

func (r storeRegistry) Dataset(name string, version int) (config.RegistryDataset, error) {
	st, err := r.stores.get()
	if err != nil {
		return config.RegistryDataset{}, err
	}
	ds, err := st.GetDataset(r.ctx, store.DefaultProjectID, name)
	if errors.Is(err, store.ErrNotFound) {
		return config.RegistryDataset{}, fmt.Errorf("%w: no dataset %q", config.ErrNotInRegistry, name)
	}
	if err != nil {
		return config.RegistryDataset{}, err
	}
	if version == 0 {
		version = ds.LatestVersion
	}
	if version == 0 {
		return config.RegistryDataset{}, fmt.Errorf("%w: dataset %q has no version yet", config.ErrNotInRegistry, name)
	}
	out := config.RegistryDataset{Name: ds.Name, Version: version}
	cursor := ""
	for {
		page, next, err := st.ListItems(r.ctx, ds.ID, version, cursor, store.MaxPageSize)
		if errors.Is(err, store.ErrNotFound) {
			return config.RegistryDataset{}, fmt.Errorf("%w: dataset %q has no version %d (latest: %d)",
				config.ErrNotInRegistry, name, version, ds.LatestVersion)
		}
		if err != nil {
			return config.RegistryDataset{}, err
		}
		for _, it := range page {
			out.Items = append(out.Items, registryItem(it))
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// remoteRegistry resolves the references in a server project, for `plumb eval --server`:
// the run is uploaded there, so its prompts and datasets are that project's.
type remoteRegistry struct {
	ctx     context.Context
	c       *client.Client
	project string
}

func (r remoteRegistry) Prompt(name, ref string) (config.RegistryPrompt, error) {
	if ref == "" {
		ref = "latest" // the API's default is production; a suite's default is the latest
	}
	v, err := r.c.Prompt(r.ctx, r.project, name, ref)
	if client.IsCode(err, client.CodeNotFound) {
		return config.RegistryPrompt{}, fmt.Errorf("%w: %s in project %s", config.ErrNotInRegistry, promptMissing(name, ref), r.project)
	}
	if err != nil {
		return config.RegistryPrompt{}, err
	}
	return registryPrompt(v), nil
}

func (r remoteRegistry) Dataset(name string, version int) (config.RegistryDataset, error) {
	ds, _, _, err := r.c.Dataset(r.ctx, r.project, name)
	if client.IsCode(err, client.CodeNotFound) {
		return config.RegistryDataset{}, fmt.Errorf("%w: no dataset %q in project %s", config.ErrNotInRegistry, name, r.project)
	}
	if err != nil {
		return config.RegistryDataset{}, err
	}
	if version == 0 {
		version = ds.LatestVersion
	}
	if version == 0 {
		return config.RegistryDataset{}, fmt.Errorf("%w: dataset %q has no version yet", config.ErrNotInRegistry, name)
	}
	out := config.RegistryDataset{Name: ds.Name, Version: version}
	cursor := ""
	for {
		page, next, err := r.c.DatasetItems(r.ctx, r.project, name, version, cursor, store.MaxPageSize)
		if client.IsCode(err, client.CodeNotFound) {
			return config.RegistryDataset{}, fmt.Errorf("%w: dataset %q has no version %d (latest: %d)",
				config.ErrNotInRegistry, name, version, ds.LatestVersion)
		}
		if err != nil {
			return config.RegistryDataset{}, err
		}
		for _, it := range page {
			out.Items = append(out.Items, registryItem(it))
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

func promptMissing(name, ref string) string {
	if ref == "" || ref == "latest" {
		return fmt.Sprintf("no prompt %q", name)
	}
	return fmt.Sprintf("no prompt %q with label or version %q", name, ref)
}

func registryPrompt(v store.PromptVersion) config.RegistryPrompt {
	p := config.RegistryPrompt{Name: v.Prompt, Version: v.Version, ContentHash: v.ContentHash, Template: v.Content.Template}
	for _, m := range v.Content.Messages {
		p.Messages = append(p.Messages, provider.Message{Role: m.Role, Content: m.Content})
	}
	return p
}

func registryItem(it dataset.Item) config.RegistryItem {
	return config.RegistryItem{ID: it.ID, Vars: it.Vars, Expected: it.Expected, Metadata: it.Metadata, Segment: it.Segment}
}
