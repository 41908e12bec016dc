package main

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for bash, zsh or fish",
		Long: `Prints a script that makes the shell complete capture's commands, flags and
values (roles, account names, prospect statuses, fields). Load it once in the
current shell, or install it for every new one:

  bash  source <(capture completion bash)
        capture completion bash > /etc/bash_completion.d/capture   (needs bash-completion)
  zsh   capture completion zsh > "${fpath[1]}/_capture"            (then start a new shell)
  fish  capture completion fish > ~/.config/fish/completions/capture.fish`,
		Example: `  source <(capture completion bash)
  capture completion zsh > "${fpath[1]}/_capture"
  capture completion fish > ~/.config/fish/completions/capture.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args: func(cmd *cobra.Command, args []string) error {
			if err := positional(1, "the shell: bash, zsh or fish")(cmd, args); err != nil {
				return err
			}
			switch args[0] {
			case "bash", "zsh", "fish":
				return nil
			}
			return usageError("no completion for %q: want bash, zsh or fish", args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			default:
				return root.GenFishCompletion(out, true)
			}
		},
	}
	return cmd
}
