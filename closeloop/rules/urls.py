from django.urls import path

from . import views

app_name = "rules"
urlpatterns = [
    path("rules/", views.rule_list, name="list"),
    path("rules/new", views.edit, name="new"),
    path("rules/<int:pk>/", views.edit, name="edit"),
    path("rules/<int:pk>/enabled", views.toggle, name="toggle"),
    path("rules/<int:pk>/move", views.move, name="move"),
    path("rules/<int:pk>/delete", views.delete, name="delete"),
    path("rules/builder/build", views.builder_build, name="builder_build"),
    path("rules/builder/parse", views.builder_parse, name="builder_parse"),
    path("rules/keywords/", views.keywords, name="keywords"),
    path("rules/keywords/new", views.keyword_edit, name="keyword_new"),
    path("rules/keywords/<str:name>/", views.keyword_edit, name="keyword_edit"),
    path("rules/keywords/<str:name>/delete", views.keyword_delete, name="keyword_delete"),
]
