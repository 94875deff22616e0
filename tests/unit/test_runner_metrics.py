from runbooks import metrics


def test_textfile_has_drift_per_layer_run_times_and_keeps_last_success(tmp_path):
    path = tmp_path / "tts_drift.prom"
    ok = {"gpu-a": {"failed": 0, "drift_counts": {"values_file": 0, "release": 1, "live": 2, "health": 0}}}
    metrics.write(path, ok, duration=12.5, now=1000.0)
    text = path.read_text()
    assert 'tts_drift_entries{cluster="gpu-a",layer="live"} 2' in text
    assert 'tts_drift_last_success_timestamp_seconds{cluster="gpu-a"} 1000.000' in text
    assert "tts_drift_run_duration_seconds 12.500" in text
    assert "# TYPE tts_drift_entries gauge" in text

    failed = {"gpu-a": {"failed": 1, "drift_counts": {}}}
    metrics.write(path, failed, duration=3.0, now=2000.0)
    text = path.read_text()
    assert 'tts_drift_last_run_timestamp_seconds{cluster="gpu-a"} 2000.000' in text
    assert 'tts_drift_last_success_timestamp_seconds{cluster="gpu-a"} 1000.000' in text  # carried over
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temp file, nothing left behind


def test_label_values_are_escaped():
    text = metrics.render({'we"ird': {"drift_counts": {"live": 1}}}, 1.0, 5.0, {})
    assert 'cluster="we\\"ird"' in text


def test_drift_exit_code_follows_the_published_counts():
    from runbooks.execute import drift_found

    assert drift_found({"a": {"drift_counts": {"live": 1}}, "b": {}})
    assert not drift_found({"a": {"drift_counts": {"live": 0, "health": 0}}, "b": {"drift_counts": {}}})
