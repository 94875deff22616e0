import os

from sandbox.kubelet.podnet import acquire_pod_network


def test_running_sandboxes_get_distinct_pod_networks_and_free_them(tmp_path):
    first, first_fd = acquire_pod_network(tmp_path)
    second, second_fd = acquire_pod_network(tmp_path)
    assert first == "127.2" and second == "127.3"
    os.close(first_fd)  # the first sandbox ends: its range is free again
    again, again_fd = acquire_pod_network(tmp_path)
    assert again == "127.2"
    os.close(second_fd)
    os.close(again_fd)
