"""The GitOps repository: manifests with file and line, change sets, comment-keeping edits, git, reconcile waits."""
