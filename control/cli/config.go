package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/probox/probox/config"
)

// ConfigCmd is `probox config`: check, show and document configuration files.
func ConfigCmd(args []string, env Env) int {
	usage := func(w io.Writer) {
		fmt.Fprint(w, `usage: probox config check FILE...     validate files; print every error, or "ok"
       probox config show [-c FILE]     print the effective configuration (defaults merged)
       probox config defaults           print the embedded defaults
       probox config reference          print the configuration reference (Markdown)
`)
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(env.Stdout)
		return 0
	case "check":
		if len(args) < 2 {
			fmt.Fprintln(env.Stderr, "probox config check: name at least one FILE")
			return 2
		}
		status := 0
		for _, path := range args[1:] {
			if _, err := config.Load(path); err != nil {
				var errs *config.Errors
				if errors.As(err, &errs) {
					fmt.Fprintln(env.Stdout, errs.Error())
					fmt.Fprintf(env.Stdout, "%s: %d error(s)\n", path, errs.Len())
				} else {
					fmt.Fprintf(env.Stdout, "%s: %v\n", path, err)
				}
				status = 1
				continue
			}
			fmt.Fprintf(env.Stdout, "%s: ok\n", path)
		}
		return status
	case "show":
		fs := flag.NewFlagSet("probox config show", flag.ContinueOnError)
		fs.SetOutput(env.Stderr)
		path := fs.String("c", config.DefaultPath, "configuration `FILE`")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		f, err := config.LoadOrDefault(*path)
		if err != nil {
			fmt.Fprintln(env.Stderr, err)
			return 1
		}
		b, err := f.TOML()
		if err != nil {
			fmt.Fprintln(env.Stderr, err)
			return 1
		}
		if f.Embedded() {
			fmt.Fprintf(env.Stdout, "# %s does not exist: the embedded defaults are in effect\n", *path)
		}
		env.Stdout.Write(b)
		return 0
	case "defaults":
		env.Stdout.Write(config.DefaultsTOML())
		return 0
	case "reference":
		io.WriteString(env.Stdout, config.Reference())
		return 0
	}
	fmt.Fprintf(env.Stderr, "probox config: unknown command %q\n", args[0])
	usage(env.Stderr)
	return 2
}
