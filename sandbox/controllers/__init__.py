"""Controllers of the sandbox, one concern each, as kube-controller-manager runs them."""
