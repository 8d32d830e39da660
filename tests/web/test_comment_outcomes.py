"""What the writer of a comment is told: an @mention of nobody is reported back after posting;
an empty comment sends them back to the page with the reason (POST-redirect-GET: a reload
does not post the form again)."""

from django.urls import reverse

from workflow.models import Comment


def post_comment(client, nomination, body):
    return client.post(
        reverse("workflow:comment", args=[nomination.pk]), {"body": body}, follow=True
    )


def test_a_mention_of_nobody_is_reported_to_the_writer(in_review, people, as_):
    response = post_comment(as_(people.sales_member), in_review, "@mara @samm @nobody.here ok?")

    page = response.content.decode()
    assert "Your comment is posted." in page
    assert "No one here has the usernames @nobody.here, @samm, so no one was notified" in page
    comment = Comment.objects.get()
    assert list(comment.mentions.values_list("username", flat=True)) == ["mara"]


def test_a_mention_of_someone_who_left_counts_as_nobody(in_review, people, as_):
    people.marketing_member.is_active = False
    people.marketing_member.save()

    page = post_comment(as_(people.sales_member), in_review, "@mina still here?").content.decode()

    assert "No one here has the username @mina, so no one was notified of that mention" in page


def test_mentions_of_real_people_raise_no_warning(in_review, people, as_):
    response = post_comment(as_(people.sales_member), in_review, "@mara @milo see this")
    page = response.content.decode()

    assert "Your comment is posted." in page
    assert "No one here has" not in page


def test_an_empty_comment_redirects_back_with_the_reason(in_review, people, as_):
    client = as_(people.sales_member)
    url = reverse("workflow:nomination", args=[in_review.pk])

    response = client.post(reverse("workflow:comment", args=[in_review.pk]), {"body": "  \n "})

    assert response.status_code == 302
    assert response["Location"] == url
    shown = client.get(url).content.decode()
    assert "Your comment is not posted: write something first." in shown
    assert "Your comment is not posted" not in client.get(url).content.decode()  # shown once
    assert not Comment.objects.exists()
