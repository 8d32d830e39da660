from django.http import HttpResponse


def queue(request):  # replaced by the web pages
    return HttpResponse("Accord")


def nomination_detail(request, pk):
    return HttpResponse(f"Nomination {pk}")
