"""The field-work domain: households and their search, visits and quotas, patrols with
the signed checklist and their tracks, events round the closed loop, tasks from the
centre, the centre's per-district settings, the device's enrollment record and synthetic
training data.

May import :mod:`fieldclient.photos`, :mod:`fieldclient.storage`,
:mod:`fieldclient.security`, :mod:`fieldclient.geo` and the foundation modules. Never the
CLI, ``sync`` (which builds on this layer) or Qt: the UI and the CLI both take their names
and rules from here.
"""
