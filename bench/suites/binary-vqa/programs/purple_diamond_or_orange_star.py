def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Is there a purple diamond or an orange star?
    # Either one is enough for a yes.
    image_patch = ImagePatch(image)
    if image_patch.exists("purple diamond"):
        return "yes"
    for star_patch in image_patch.find("star"):
        color = star_patch.simple_query("What color is the star?")
        if color == "orange":
            return "yes"
    return "no"
