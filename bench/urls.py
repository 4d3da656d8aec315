"""The app's URLs plus a bare view that renders only the base layout (the benchmarks' unit)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns


@login_required
def bare(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html")


urlpatterns = [path("_bench/bare/", bare, name="bench_bare"), *app_urlpatterns]
