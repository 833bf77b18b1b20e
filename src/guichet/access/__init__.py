"""Access applications: from the catalogue's basket to an authorisation — the application, its criteria
(a population language the hub executes and counts safely), the statutory workflow with its clocks, reviewers
and panels. Stands above the stages (it reads the catalogue's dictionary and the lake's published versions)
and below the permits that follow an authorisation."""
